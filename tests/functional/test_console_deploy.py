"""`make console-deploy` (tools/console_deploy.py): the console's files in its bucket, each
with its type and cache policy, and nothing the build no longer has."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]


def deploy_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "console_deploy", ROOT / "tools" / "console_deploy.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@mock_aws
def test_upload_types_caches_and_removes_stale_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    deploy = deploy_module()
    (tmp_path / "vendor").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "vendor" / "chart.umd.min.js").write_text("/* chart */")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="console")
    s3.put_object(Bucket="console", Key="old.js", Body=b"stale")

    assert deploy.upload(s3, "console", tmp_path) == (2, 1)

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="console")["Contents"]]
    assert sorted(keys) == ["index.html", "vendor/chart.umd.min.js"]
    index = s3.head_object(Bucket="console", Key="index.html")
    vendored = s3.head_object(Bucket="console", Key="vendor/chart.umd.min.js")
    assert (index["ContentType"], index["CacheControl"]) == ("text/html; charset=utf-8", "no-cache")
    assert vendored["ContentType"] == "text/javascript; charset=utf-8"
    assert vendored["CacheControl"] == "public, max-age=86400"
