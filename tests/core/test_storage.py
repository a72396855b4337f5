"""tasks.core.storage: one interface over local paths, file:// URIs and s3:// (moto's real HTTP server)."""

from __future__ import annotations

import os

import boto3
import polars as pl
import pytest

from pairforge.tasks.core import storage


def _round_trip(base: str) -> None:
    """write/read/exists/list/glob/delete under `base` (a local folder, file:// URI or s3:// prefix)."""
    a, b, c = (storage.join(base, p) for p in ("a.txt", "sub/b.jsonl", "sub/deeper/c.txt"))
    assert not storage.exists(a)
    storage.write_bytes(a, b"alpha")
    storage.write_bytes(b, b'{"x": 1}\n')
    storage.write_bytes(c, b"gamma!")
    assert storage.exists(a) and storage.exists(c)
    assert storage.read_bytes(a) == b"alpha"
    assert storage.read_bytes(c) == b"gamma!"

    # overwrite replaces the content
    storage.write_bytes(a, b"alpha 2")
    assert storage.read_bytes(a) == b"alpha 2"

    assert storage.list_files(base) == [(a, 7), (b, 9), (c, 6)]
    assert storage.list_files(storage.join(base, "sub")) == [(b, 9), (c, 6)]
    assert storage.list_files(storage.join(base, "nothing-here")) == []

    # folder, single file, and glob patterns
    assert storage.glob(base + "/") == [(a, 7), (b, 9), (c, 6)]
    assert storage.glob(a) == [(a, 7)]
    assert [u for u, _ in storage.glob(storage.join(base, "sub", "*.jsonl"))] == [b]
    assert [u for u, _ in storage.glob(storage.join(base, "*.txt"))] == [a, c]  # `*` crosses folders
    assert storage.glob(storage.join(base, "*.csv")) == []

    storage.delete(a)
    assert not storage.exists(a)
    storage.delete(a)  # deleting what is gone is fine
    assert [u for u, _ in storage.list_files(base)] == [b, c]


def test_local_round_trip(tmp_path):
    _round_trip(str(tmp_path / "store"))


def test_file_uri_round_trip(tmp_path):
    base = f"file://{tmp_path}/store"
    _round_trip(base)
    # the bytes really are at the plain path
    assert (tmp_path / "store" / "sub" / "b.jsonl").read_bytes() == b'{"x": 1}\n'


def test_s3_round_trip(bucket):
    _round_trip(f"s3://{bucket}/store")
    # the objects are visible to any S3 client, not only through tasks.core.storage
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["store/sub/b.jsonl", "store/sub/deeper/c.txt"]


def test_s3_prefix_without_slash_and_listing_is_not_prefix_matching(bucket):
    storage.write_bytes(f"s3://{bucket}/data/x.txt", b"x")
    storage.write_bytes(f"s3://{bucket}/data-other/y.txt", b"yy")
    assert storage.glob(f"s3://{bucket}/data") == [(f"s3://{bucket}/data/x.txt", 1)]
    assert storage.list_files(f"s3://{bucket}/data") == [(f"s3://{bucket}/data/x.txt", 1)]


def test_parquet_round_trip_local_and_s3(tmp_path, bucket):
    df = pl.DataFrame({"id": ["a", "b"], "n": [1, 2]})
    for uri in (str(tmp_path / "t.parquet"), f"s3://{bucket}/t.parquet"):
        size = storage.write_parquet(df, uri)
        assert size == len(storage.read_bytes(uri))
        assert storage.read_parquet(uri).equals(df)
        assert storage.read_parquet(uri, columns=["n"]).columns == ["n"]


def test_local_write_leaves_no_temp_file(tmp_path):
    target = tmp_path / "out" / "data.bin"
    storage.write_bytes(str(target), b"one")
    storage.write_bytes(str(target), b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["data.bin"]


@pytest.mark.parametrize("bad", ["not bytes", (b"chunk" for _ in range(3))], ids=["str", "generator"])
def test_failed_local_write_keeps_old_content_and_no_temp_file(tmp_path, bad):
    target = tmp_path / "data.bin"
    storage.write_bytes(str(target), b"old content")
    with pytest.raises(TypeError):
        storage.write_bytes(str(target), bad)
    assert target.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]


def test_write_failing_after_the_bytes_went_out_keeps_old_content(tmp_path, monkeypatch):
    """The disk fails after the temp file got the new bytes (at fsync): the old file stays, the temp goes."""
    target = tmp_path / "data.bin"
    storage.write_bytes(str(target), b"old content")

    def broken_fsync(fd):
        assert os.fstat(fd).st_size == len(b"new content, longer")  # the data really was written
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(storage.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="Input/output error"):
        storage.write_bytes(str(target), b"new content, longer")
    assert target.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]


def test_list_files_skips_hidden_temp_files(tmp_path):
    storage.write_bytes(str(tmp_path / "keep.txt"), b"k")
    (tmp_path / ".keep.txt.abc.tmp").write_bytes(b"partial")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.txt").write_bytes(b"x")
    assert storage.list_files(str(tmp_path)) == [(str(tmp_path / "keep.txt"), 1)]


def test_read_missing_local_raises_permanent_storage_error(tmp_path):
    missing = str(tmp_path / "nope.txt")
    with pytest.raises(storage.StorageError) as err:
        storage.read_bytes(missing)
    assert err.value.transient is False
    assert missing in str(err.value)


def test_read_missing_s3_key_raises_permanent_storage_error(bucket):
    uri = f"s3://{bucket}/nope.txt"
    with pytest.raises(storage.StorageError) as err:
        storage.read_bytes(uri)
    assert err.value.transient is False
    assert uri in str(err.value) and "NoSuchKey" in str(err.value)
    assert storage.exists(uri) is False


def test_join():
    assert storage.join("s3://b/p/", "x/", "y.txt") == "s3://b/p/x/y.txt"
    assert storage.join("/tmp/a", "b") == "/tmp/a/b"


@pytest.mark.parametrize("part", ["..", "../x", "/abs", "a/../../b", ".", "a/./b", "x/..", "a\0b"])
@pytest.mark.parametrize("base", ["/tmp/out/ds", "s3://bucket/out/ds", "file:///tmp/out/ds"])
def test_join_refuses_keys_that_leave_their_folder(base, part):
    with pytest.raises(storage.UnsafeKeyError, match="refusing the key"):
        storage.join(base, "v1", part)
    assert not storage.UnsafeKeyError("x").transient  # never retried


@pytest.mark.parametrize("key", ["..", "../x", "a/../../b", "a/./b", "."])
def test_s3_keys_with_dot_segments_are_refused_everywhere(key):
    uri = f"s3://bucket/{key}"
    for call in (storage.read_bytes, storage.exists, storage.delete, storage.list_files,
                 lambda u: storage.write_bytes(u, b"x")):
        with pytest.raises(storage.UnsafeKeyError):
            call(uri)


def test_deletes_stay_inside_their_folder(tmp_path):
    root = tmp_path / "out"
    (root / "ds" / "v1").mkdir(parents=True)
    (root / "ds" / "v1" / "a.txt").write_text("a")
    (root / "ds" / "LATEST").write_text("v1\n")
    (root / "other").mkdir()
    (root / "other" / "precious.txt").write_text("p")
    (root / "ds" / "v2").symlink_to(root / "other")  # a version folder that leads elsewhere
    ds = str(root / "ds")
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    for target in (f"{ds}/..", f"{ds}/.", f"{ds}/v1/../..", "/", str(root / "other")):
        with pytest.raises(storage.UnsafeKeyError):
            storage.delete_tree(target, within=ds)
    with pytest.raises(storage.UnsafeKeyError, match="outside"):
        storage.delete_tree(ds, within=ds)  # the folder itself is not inside it
    with pytest.raises(storage.UnsafeKeyError, match="outside"):
        storage.delete(str(root / "other" / "precious.txt"), within=ds)
    with pytest.raises(storage.UnsafeKeyError, match="outside"):
        storage.delete(f"{ds}/v2/precious.txt", within=ds)  # through the symlink: resolves outside
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == before
    storage.delete_tree(f"{ds}/v2")  # a symlinked folder loses the link, never what it points to
    assert (root / "other" / "precious.txt").exists() and not (root / "ds" / "v2").exists()
    storage.delete_tree(f"{ds}/v1", within=ds)
    assert not (root / "ds" / "v1").exists() and (root / "ds" / "LATEST").exists()


def test_deletes_never_take_a_whole_bucket(bucket):
    storage.write_bytes(f"s3://{bucket}/ds/v1/a.txt", b"a")
    for target in (f"s3://{bucket}", f"s3://{bucket}/"):
        with pytest.raises(storage.UnsafeKeyError, match="whole bucket"):
            storage.delete_tree(target)
    with pytest.raises(storage.UnsafeKeyError, match="outside"):
        storage.delete_tree(f"s3://{bucket}/ds", within=f"s3://{bucket}/ds")
    with pytest.raises(storage.UnsafeKeyError, match="outside"):
        storage.delete(f"s3://{bucket}/dsx/a.txt", within=f"s3://{bucket}/ds")
    storage.delete_tree(f"s3://{bucket}/ds/v1", within=f"s3://{bucket}/ds")
    assert storage.list_files(f"s3://{bucket}/ds") == []


def test_normalize_user_folders():
    assert storage.normalize("out/ds/../ds/") == "out/ds/" and storage.normalize("/a/./b") == "/a/b"
    assert storage.normalize("s3://b/x/../y") == "s3://b/x/../y"  # refused on use, not rewritten


@pytest.mark.parametrize("where", ["local", "s3"])
def test_contents_key_follows_file_changes(tmp_path, where, request):
    from pairforge.tasks.core.shards import contents_key

    base = f"s3://{request.getfixturevalue('bucket')}/bench" if where == "s3" else str(tmp_path / "bench")
    storage.write_bytes(storage.join(base, "a.jsonl"), b'{"text": "one"}\n')
    first = contents_key([base])
    assert contents_key([base]) == first  # nothing read changed
    storage.write_bytes(storage.join(base, "a.jsonl"), b'{"text": "two"}\n')  # same size, other content
    second = contents_key([base])
    assert second != first
    storage.write_bytes(storage.join(base, "b.jsonl"), b"{}\n")
    assert contents_key([base]) != second and contents_key([storage.join(base, "*.jsonl")]) == contents_key([base])
    assert contents_key([storage.join(base, "missing")]) == contents_key([])
