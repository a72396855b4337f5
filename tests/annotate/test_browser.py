"""A person's view of what pairforge sends (issue 16): headless Chromium logs in to the real Label Studio, opens the
project the annotation round made, sees its tasks in the data manager and the generated labeling interface (the
prompt, the response, the rating stars and the reason box of `rate`; the guidelines) and rates a task with the
mouse, which the API then reports as that person's annotation."""

from __future__ import annotations

import uuid

import polars as pl

from pairforge.tasks.annotate.round import task_payloads
from pairforge.tasks.annotate.server import admin_credentials
from pairforge.tasks.annotate.stage import project_title
from pairforge.tasks.annotate.tasks import guidelines_html, label_config
from tests.flows.test_ops import CHROMIUM, CHROMIUM_ARGS

PAIRS = pl.DataFrame({"id": [f"browser-{i}" for i in range(3)],
                      "prompt": ["What is the capital of Peru?", "Name a prime number.", "Translate 'Haus'."],
                      "response": ["Lima is the capital of Peru.", "Seven is prime.", "'Haus' means 'house'."]})


def test_the_project_opens_in_a_browser_with_its_tasks_and_interface(label_studio_server, tmp_path):
    from playwright.sync_api import sync_playwright

    client = label_studio_server.client()
    guidelines = tmp_path / "guidelines.md"
    guidelines.write_text("# Rating\n\nGive 5 when the answer is correct and complete.\n")
    title = project_title(f"browser-{uuid.uuid4().hex[:6]}", "v1", "rate")  # as run_round names and makes it
    project = client.ensure_project(title, label_config("rate"), guidelines_html(str(guidelines), tmp_path), 3)
    ids = client.import_tasks(project, task_payloads(PAIRS, {}, "rate"))
    creds = admin_credentials(label_studio_server.data_dir)
    shot = tmp_path / "label-studio.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900})
        try:
            page = browser.new_page()
            page.set_default_timeout(60_000)
            page.goto(f"{label_studio_server.url}/user/login/")
            page.locator('input[name="email"]').fill(creds.username)
            page.locator('input[name="password"]').fill(creds.password)
            page.locator('button[type="submit"], input[type="submit"]').first.click()
            page.wait_for_url(lambda url: "/user/login" not in url)

            page.goto(f"{label_studio_server.url}/projects/{project}/data")  # the data manager lists the tasks
            for text in PAIRS["prompt"]:
                page.get_by_text(text, exact=False).first.wait_for()

            task = ids["browser-0"]  # one task in the labeling interface
            page.goto(f"{label_studio_server.url}/projects/{project}/data?tab=0&task={task}")
            page.get_by_text("Lima is the capital of Peru.").last.wait_for()
            page.locator(".ant-rate, [class*='rating'], [data-testid*='rating']").first.wait_for()
            body = page.inner_text("body")
            page.get_by_role("button", name="Instructions").click()  # the guidelines, as HTML
            page.get_by_text("Give 5 when the answer is correct and complete.").first.wait_for()
            page.keyboard.press("Escape")
            page.screenshot(path=str(shot))
            # a person rates it: the fourth star, a reason, Submit; the API then holds their annotation
            page.locator(".ant-rate-star").nth(3).click()
            page.locator("textarea").first.fill("Correct but short.")
            page.keyboard.press("Shift+Enter")
            with page.expect_response(lambda r: "/annotations" in r.url and r.request.method == "POST") as posted:
                page.get_by_role("button", name="Submit").click()
            assert posted.value.status == 201, posted.value.text()
        finally:
            browser.close()
    assert "Prompt" in body and "Response" in body and "What is the capital of Peru?" in body
    [done] = [t for t in client.tasks_with_annotations(project) if t["id"] == task]
    [annotation] = done["annotations"]
    values = {r["from_name"]: r["value"] for r in annotation["result"]}
    assert values["score"]["rating"] == 4 and values["reason"]["text"] == ["Correct but short."]
