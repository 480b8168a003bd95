"""Lists what an export holds, independently of twilio-export: every file (or object) under a
root with the SHA-256 of its bytes, printed as one JSON object {key: sha256}, keys relative to
the root with `/` between segments. Run by tests/it/purge.rs and tests/it/retention.rs.

    purge_check.py local DIR
    purge_check.py s3 ENDPOINT BUCKET PREFIX
    purge_check.py s3-put ENDPOINT BUCKET PREFIX DIR
    purge_check.py s3-put-key ENDPOINT BUCKET PREFIX KEY

`local` skips the output's own `_staging/`. `s3-put` uploads every file below the local
directory DIR under PREFIX, at the same relative key (boto3, which moto brings);
`s3-put-key` puts one small object at PREFIX/KEY exactly as given (a key a file system cannot
hold, such as one with an empty segment).
"""
import hashlib
import json
import os
import sys


def local(root):
    out = {}
    for directory, _, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            key = os.path.relpath(path, root).replace(os.sep, "/")
            if key.startswith("_staging/"):
                continue
            with open(path, "rb") as f:
                out[key] = hashlib.sha256(f.read()).hexdigest()
    return out


def client(endpoint):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )


def s3(endpoint, bucket, prefix):
    c = client(endpoint)
    root = prefix.strip("/") + "/"
    out = {}
    for page in c.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=root):
        for obj in page.get("Contents", []):
            body = c.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            out[obj["Key"][len(root):]] = hashlib.sha256(body).hexdigest()
    return out


def s3_put(endpoint, bucket, prefix, source):
    c = client(endpoint)
    for key, _ in local(source).items():
        with open(os.path.join(source, *key.split("/")), "rb") as f:
            c.put_object(Bucket=bucket, Key=prefix.strip("/") + "/" + key, Body=f.read())
    return {}


def s3_put_key(endpoint, bucket, prefix, key):
    client(endpoint).put_object(Bucket=bucket, Key=prefix.strip("/") + "/" + key, Body=b"x")
    return {}


def main():
    action = sys.argv[1]
    if action == "local":
        found = local(sys.argv[2])
    elif action == "s3":
        found = s3(*sys.argv[2:5])
    elif action == "s3-put":
        found = s3_put(*sys.argv[2:6])
    elif action == "s3-put-key":
        found = s3_put_key(*sys.argv[2:6])
    else:
        raise SystemExit(f"unknown action {action}")
    print(json.dumps(found, sort_keys=True))


if __name__ == "__main__":
    main()
