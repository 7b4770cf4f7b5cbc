"""A real S3-compatible server on the loopback for tests: moto's server (``moto[s3]`` +
Flask, from the dev extra) in a thread of the test process, with authentication on.

The fixture creates an IAM user allowed ``s3:*``, its access key and the bucket
``qsim``, then switches the server's authentication on (``/moto-api/reset-auth``), so
requests signed with any other key are refused as a real S3 would refuse them.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

BUCKET = "qsim"
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    """The running server: its endpoint URL and a valid key pair."""

    url: str
    key_id: str
    secret: str

    def env(self) -> dict[str, str]:
        """The environment a qsim process needs to reach the server as the test user."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": self.key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def uri(self, prefix: str) -> str:
        """A store URI in the test bucket."""
        return f"s3://{BUCKET}/{prefix}"


def _enable_auth(url: str) -> None:
    request = urllib.request.Request(
        f"{url}/moto-api/reset-auth",
        data=b"0",
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


@contextlib.contextmanager
def running_s3_server() -> Iterator[S3Server]:
    """Start the server, create the user, key and bucket, turn authentication on; stop
    the server at the end (benchmarks use this too). One per process: moto's state is."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        setup = {
            "endpoint_url": url,
            "region_name": REGION,
            "aws_access_key_id": "setup",
            "aws_secret_access_key": "setup",
        }
        iam = boto3.client("iam", **setup)
        iam.create_user(UserName="qsim")
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        iam.put_user_policy(UserName="qsim", PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="qsim")["AccessKey"]
        boto3.client("s3", **setup).create_bucket(Bucket=BUCKET)
        _enable_auth(url)
        yield S3Server(url, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        server.stop()


_SHARED: list[S3Server] = []


@pytest.fixture(scope="session")
def s3_server() -> S3Server:
    """The server, one per test process: moto keeps its state (users, buckets, whether
    authentication is on) in the process, so every test module that imports this fixture
    gets the same server, stopped when the process exits."""
    if not _SHARED:
        stack = contextlib.ExitStack()
        _SHARED.append(stack.enter_context(running_s3_server()))
        atexit.register(stack.close)
    return _SHARED[0]


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The server, with this process's environment set to reach it as the test user."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server
