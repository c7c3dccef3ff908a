"""The S3 landing zone against moto's S3 server over HTTP."""

from datetime import date

from sparecast_assets.landing.storage import S3Landing, files_for, scan


def test_listing_pages_past_one_thousand_keys(s3_endpoint):
    _, client = s3_endpoint
    client.create_bucket(Bucket="landing")
    for i in range(1500):
        client.put_object(Bucket="landing", Key=f"plant/errors/dt=2025-03-01/part-{i:04d}.csv",
                          Body=b"machine_id,error_at,error_code\n")

    files = files_for(S3Landing("s3://landing/plant"), "errors", date(2025, 3, 1))

    assert len(files) == 1500
    assert files[-1].uri == "s3://landing/plant/errors/dt=2025-03-01/part-1499.csv"


def test_scan_splits_contract_files_from_keys_it_cannot_use(s3_endpoint):
    _, client = s3_endpoint
    client.create_bucket(Bucket="landing")
    for key in ("errors/dt=2025-03-01/a.csv", "errors/dt=2025-03-02/b.parquet",
                "errors/readme.txt", "spares/dt=2025-03-01/a.csv"):
        client.put_object(Bucket="landing", Key=key, Body=b"x")

    result = scan(S3Landing("s3://landing"))

    assert result.partition_dates() == [date(2025, 3, 1), date(2025, 3, 2)]
    assert [key for key, _ in result.skipped] == ["errors/readme.txt", "spares/dt=2025-03-01/a.csv"]
    assert "unknown source 'spares'" in result.skipped[1][1]


def test_the_concurrent_listing_sees_exactly_what_one_listing_sees(s3_endpoint):
    _, client = s3_endpoint
    client.create_bucket(Bucket="landing")
    keys = ["plant/README.md", "plant/errors/dt=2025-03-01/a.csv", "plant/errors/x/y/z.csv",
            "plant/part_usage/dt=2025-03-02/b.csv", "plant/zzz/notes.txt", "plantation/other.csv"]
    keys += [f"plant/telemetry/dt=2025-03-01/part-{i:04d}.csv" for i in range(1200)]
    for key in keys:
        client.put_object(Bucket="landing", Key=key, Body=b"x")
    landing = S3Landing("s3://landing/plant")

    everything = landing.list_all()

    assert everything == list(landing.iter_keys(""))
    assert len(everything) == len(keys) - 1  # not plantation/
    assert [o.key for o in everything[:3]] == [
        "README.md", "errors/dt=2025-03-01/a.csv", "errors/x/y/z.csv"]
