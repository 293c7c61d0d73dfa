"""Where the banner's upload line points: S3 -> EventBridge rule patterns and a bucket's own
notifications, read as S3 and EventBridge would match them (pure; the running sample app
is in test_cloud.py)."""

from __future__ import annotations

from local_cloud.operations.tryit import Upload, direct_uploads, key_prefixes, rule_uploads

BUCKETS = {"files", "other"}


def pattern(**detail: object) -> dict[str, object]:
    return {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": detail}


def test_a_rule_for_one_bucket_and_a_key_prefix():
    found = rule_uploads(
        pattern(bucket={"name": ["files"]}, object={"key": [{"prefix": "incoming/"}]}),
        BUCKETS,
        "fn",
    )
    assert found == [Upload("files", "incoming/", "fn")]


def test_a_rule_without_bucket_or_key_filter_admits_every_bridged_bucket_anywhere():
    assert rule_uploads(pattern(), BUCKETS, "fn") == [
        Upload("files", "", "fn"),
        Upload("other", "", "fn"),
    ]


def test_rules_for_other_sources_events_or_buckets_admit_nothing():
    assert rule_uploads({"source": ["aws.ec2"]}, BUCKETS, "fn") == []
    deleted = {**pattern(), "detail-type": ["Object Deleted"]}
    assert rule_uploads(deleted, BUCKETS, "fn") == []
    # a bucket whose EventBridge notifications are off never sends the event
    assert rule_uploads(pattern(bucket={"name": ["unbridged"]}), BUCKETS, "fn") == []


def test_only_prefix_matchers_give_a_prefix():
    assert key_prefixes(None) == [""]
    assert key_prefixes([{"prefix": "a/"}, {"suffix": ".csv"}, "exact.csv"]) == ["a/"]
    assert key_prefixes({"prefix": "not a list"}) == []


def test_a_buckets_own_notifications_of_created_objects_with_their_prefix():
    configuration = {
        "LambdaFunctionConfigurations": [
            {
                "LambdaFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:fn",
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "in/"}]}},
            }
        ],
        "QueueConfigurations": [
            {"QueueArn": "arn:aws:sqs:us-east-1:123456789012:q", "Events": ["s3:ObjectRemoved:*"]}
        ],
        "TopicConfigurations": [
            {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Events": ["s3:ObjectCreated:Put"]}
        ],
    }
    assert direct_uploads("files", configuration) == [
        Upload("files", "in/", "fn"),
        Upload("files", "", "t"),
    ]


def test_the_copy_destination_keeps_the_files_name_under_a_folder_prefix():
    assert Upload("b", "incoming/", "fn").destination("samples/t.csv") == "s3://b/incoming/"
    assert Upload("b", "", "fn").destination("samples/t.csv") == "s3://b/"
    assert Upload("b", "drop-", "fn").destination("samples/t.csv") == "s3://b/drop-t.csv"
