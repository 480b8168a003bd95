"""Reads an export in an object store emulator the way users do: pyarrow's own filesystem for
the store, the dataset read with hive partitioning. Run by tests/it/object_stores.rs.

    object_stores.py s3 ENDPOINT BUCKET create
    object_stores.py s3 ENDPOINT BUCKET read PREFIX
    object_stores.py az ENDPOINT CONTAINER create|read PREFIX

    object_stores.py s3 ENDPOINT BUCKET start-multipart KEY
    object_stores.py s3 ENDPOINT BUCKET multipart-uploads
    object_stores.py s3 ENDPOINT BUCKET versioning
    object_stores.py s3 ENDPOINT BUCKET versions PREFIX
    object_stores.py s3|az ENDPOINT BUCKET download PREFIX DEST

`create` makes the bucket (container). `start-multipart` opens a multipart upload with one
part, as a process killed mid-upload leaves it, and prints its id; `multipart-uploads` prints
how many are open (both with boto3, which moto brings). `versioning` turns on the bucket's
versioning, so that every upload of a key is kept as a version of its own; `versions` prints
one JSON object: per key under PREFIX, how many versions (uploads) and delete markers it has.
`download` copies every object under PREFIX to the local directory DEST. `read` prints one JSON object: the files under PREFIX
and, per `account_sid/date`, the row count and the number of distinct call sids.
"""
import json
import sys
from urllib.parse import urlparse

import pyarrow.dataset as ds
import pyarrow.fs as pafs

# Azurite's well-known development account.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def filesystem(kind, endpoint):
    url = urlparse(endpoint)
    if kind == "s3":
        return pafs.S3FileSystem(
            endpoint_override=url.netloc,
            scheme=url.scheme,
            access_key="test",
            secret_key="test",
            region="us-east-1",
            allow_bucket_creation=True,
        )
    if kind == "az":
        return pafs.AzureFileSystem(
            account_name=AZURITE_ACCOUNT,
            account_key=AZURITE_KEY,
            blob_storage_authority=url.netloc,
            blob_storage_scheme=url.scheme,
            dfs_storage_authority=url.netloc,
            dfs_storage_scheme=url.scheme,
        )
    raise SystemExit(f"unknown store kind {kind}")


def main():
    kind, endpoint, bucket, action = sys.argv[1:5]
    fs = filesystem(kind, endpoint)
    if action == "create":
        fs.create_dir(bucket)
        return
    if action == "download":
        prefix, dest = sys.argv[5].strip("/"), sys.argv[6]
        pafs.copy_files(f"{bucket}/{prefix}", dest, source_filesystem=fs,
                        destination_filesystem=pafs.LocalFileSystem())
        return
    if action in ("start-multipart", "multipart-uploads", "versioning", "versions"):
        import boto3

        s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test",
                          aws_secret_access_key="test", region_name="us-east-1")
        if action == "versioning":
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        elif action == "versions":
            keys = {}
            pages = s3.get_paginator("list_object_versions").paginate(
                Bucket=bucket, Prefix=sys.argv[5].strip("/") + "/")
            for page in pages:
                for kind, field in (("versions", "Versions"), ("deletes", "DeleteMarkers")):
                    for v in page.get(field, []):
                        k = keys.setdefault(v["Key"], {"versions": 0, "deletes": 0})
                        k[kind] += 1
            print(json.dumps(keys))
        elif action == "start-multipart":
            key = sys.argv[5]
            upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
            s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"half")
            print(upload)
        else:
            print(len(s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])))
        return
    root = f"{bucket}/{sys.argv[5].strip('/')}/calls"
    files = sorted(
        info.path[len(root) + 1 :]
        for info in fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
        if info.type == pafs.FileType.File
    )
    partitions = {}
    if files:
        table = ds.dataset(root, filesystem=fs, format="parquet", partitioning="hive").to_table()
        accounts = table.column("account_sid").to_pylist()
        dates = [str(d) for d in table.column("date").to_pylist()]
        sids = table.column("sid").to_pylist()
        for account, date, sid in zip(accounts, dates, sids):
            p = partitions.setdefault(f"{account}/{date}", {"rows": 0, "sids": set()})
            p["rows"] += 1
            p["sids"].add(sid)
    print(json.dumps({
        "files": files,
        "partitions": {k: {"rows": v["rows"], "distinct": len(v["sids"])} for k, v in partitions.items()},
    }))


if __name__ == "__main__":
    main()
