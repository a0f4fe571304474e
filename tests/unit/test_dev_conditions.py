"""Template conditions: evaluated from parameters, false resources left out, ``Fn::If``."""

from __future__ import annotations

from typing import Any

import pytest

from aiaas_dev.cfn import NO_VALUE, Resolver, TemplateError, references
from aiaas_dev.conditions import evaluate_conditions, without_false_resources

PARAMETERS = {"Env": "prod", "Gpu": "false", "AWS::Region": "us-east-1"}


def evaluate(conditions: dict[str, Any]) -> dict[str, bool]:
    return evaluate_conditions({"Conditions": conditions}, Resolver(PARAMETERS))


def test_condition_functions() -> None:
    results = evaluate(
        {
            "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
            "HasGpu": {"Fn::Equals": ["true", {"Ref": "Gpu"}]},
            "NoGpu": {"Fn::Not": [{"Condition": "HasGpu"}]},
            "ProdCpu": {"Fn::And": [{"Condition": "IsProd"}, {"Condition": "NoGpu"}]},
            "AnyGpu": {"Fn::Or": [{"Condition": "HasGpu"}, {"Fn::Equals": [1, "2"]}]},
            "InRegion": {"Fn::Equals": [{"Fn::Sub": "${AWS::Region}"}, "us-east-1"]},
        }
    )

    assert results == {
        "IsProd": True,
        "HasGpu": False,
        "NoGpu": True,
        "ProdCpu": True,
        "AnyGpu": False,
        "InRegion": True,
    }


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ({"A": {"Condition": "Missing"}}, "no condition 'Missing'"),
        ({"A": {"Condition": "B"}, "B": {"Fn::Not": [{"Condition": "A"}]}}, "depends on itself"),
        ({"A": {"Fn::If": ["B", "x", "y"]}}, "Fn::If is not supported in a condition"),
        ({"A": "true"}, "not a condition function"),
        ({"A": {"Fn::Equals": ["only one"]}}, "condition A:"),
    ],
)
def test_bad_conditions(conditions: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        evaluate(conditions)


def test_false_resources_are_left_out() -> None:
    document = {
        "Resources": {
            "Always": {"Type": "AWS::SQS::Queue"},
            "Gpu": {"Type": "AWS::SageMaker::Endpoint", "Condition": "HasGpu"},
            "Prod": {"Type": "AWS::SNS::Topic", "Condition": "IsProd"},
        }
    }

    kept = without_false_resources(document, {"HasGpu": False, "IsProd": True})

    assert list(kept["Resources"]) == ["Always", "Prod"]
    assert list(document["Resources"]) == ["Always", "Gpu", "Prod"]  # not changed
    with pytest.raises(TemplateError, match="Gpu: no condition 'HasGpu'"):
        without_false_resources(document, {"IsProd": True})


def test_if_takes_one_branch_and_no_value_drops_the_item() -> None:
    resolver = Resolver({"Name": "n"}, {"Yes": True, "No": False})
    no_value = {"Ref": "AWS::NoValue"}

    assert resolver.resolve({"Fn::If": ["Yes", {"Ref": "Name"}, {"Ref": "Unknown"}]}) == "n"
    assert resolver.resolve({"Fn::If": ["No", {"Ref": "Unknown"}, "other"]}) == "other"
    assert resolver.resolve({"Fn::If": ["No", "x", no_value]}) is NO_VALUE
    assert resolver.resolve(
        {"A": {"Fn::If": ["No", "x", no_value]}, "B": ["1", {"Fn::If": ["Yes", no_value, "2"]}]}
    ) == {"B": ["1"]}
    assert resolver.with_values({"Other": "o"}).resolve({"Fn::If": ["Yes", "y", "z"]}) == "y"
    with pytest.raises(TemplateError, match="no condition 'Maybe'"):
        resolver.resolve({"Fn::If": ["Maybe", "x", "y"]})


def test_references() -> None:
    value = {
        "A": {"Ref": "Param"},
        "B": [{"Fn::GetAtt": ["Queue", "Arn"]}],
        "C": {"Fn::Sub": ["${Bucket}/${Table.Arn}/${!Literal}/${Local}", {"Local": "x"}]},
    }

    assert references(value) == {"Param", "Queue", "Bucket", "Table"}
