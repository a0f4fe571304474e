"""aiaas_dev.cfn and aiaas_dev.template: short tags, intrinsics, functions, routes, stage."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiaas_dev.cfn import Resolver, TemplateError, load_yaml
from aiaas_dev.template import load_template

ROOT = Path(__file__).resolve().parents[2]
ECHO_TEMPLATE = ROOT / "tests" / "fixtures" / "echo_template.yaml"

SHORT_TAGS = """\
ref: !Ref Param
sub: !Sub "${AWS::Region}-x"
sub_list: !Sub ["${A}-${B}", {A: a, B: !Ref Param}]
getatt_dotted: !GetAtt Fn.Arn
getatt_list: !GetAtt [Fn, Arn]
join: !Join ["-", [a, !Ref Param]]
select: !Select [1, [x, y]]
if: !If [IsProd, a, b]
nested: {Fn::Sub: plain}
"""


def test_short_tags_become_the_long_form(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(SHORT_TAGS)

    document = load_yaml(path)

    assert document["ref"] == {"Ref": "Param"}
    assert document["sub"] == {"Fn::Sub": "${AWS::Region}-x"}
    assert document["sub_list"] == {"Fn::Sub": ["${A}-${B}", {"A": "a", "B": {"Ref": "Param"}}]}
    assert document["getatt_dotted"] == {"Fn::GetAtt": ["Fn", "Arn"]}
    assert document["getatt_list"] == {"Fn::GetAtt": ["Fn", "Arn"]}
    assert document["join"] == {"Fn::Join": ["-", ["a", {"Ref": "Param"}]]}
    assert document["select"] == {"Fn::Select": [1, ["x", "y"]]}
    assert document["if"] == {"Fn::If": ["IsProd", "a", "b"]}
    assert document["nested"] == {"Fn::Sub": "plain"}


def test_load_yaml_rejects_what_is_not_a_template(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(TemplateError, match="not a YAML mapping"):
        load_yaml(path)
    with pytest.raises(TemplateError, match="cannot read"):
        load_yaml(tmp_path / "missing.yaml")


def test_resolver_evaluates_the_intrinsics_a_local_stack_needs() -> None:
    resolver = Resolver({"Param": "p", "AWS::Region": "us-east-1", "Fn.Arn": "arn:fn"})

    assert resolver.resolve({"Ref": "Param"}) == "p"
    assert resolver.resolve({"Fn::Sub": "${AWS::Region}/${!Literal}"}) == "us-east-1/${Literal}"
    assert resolver.resolve({"Fn::Sub": ["${A}-${Param}", {"A": {"Ref": "Param"}}]}) == "p-p"
    assert resolver.resolve({"Fn::GetAtt": ["Fn", "Arn"]}) == "arn:fn"
    assert resolver.resolve({"Fn::Join": ["-", ["a", {"Ref": "Param"}]]}) == "a-p"
    assert resolver.resolve({"Fn::Select": [1, ["x", {"Ref": "Param"}]]}) == "p"
    assert resolver.resolve({"Variables": {"A": {"Ref": "Param"}}}) == {"Variables": {"A": "p"}}
    assert resolver.resolve_str(True) == "true"
    assert resolver.resolve_str(2048) == "2048"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Ref": "Unknown"}, "no local value for 'Unknown'"),
        ({"Fn::GetAtt": ["Table", "StreamArn"]}, "Table.StreamArn"),
        ({"Fn::ImportValue": "x"}, "Fn::ImportValue is not supported"),
    ],
)
def test_resolver_names_what_it_cannot_resolve(value: object, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        Resolver({}).resolve(value)


def test_echo_template_functions_and_settings() -> None:
    template = load_template(ECHO_TEMPLATE)

    echo = template.functions["EchoFunction"]
    plain = template.functions["PlainFunction"]
    assert echo.name == "EchoFunction"
    assert plain.name == "aiaas-local-plain"  # FunctionName: !Sub ${AWS::StackName}-plain
    assert echo.handler_file == ROOT / "tests" / "fixtures" / "echo_app" / "app.py"
    assert echo.handler_attr == "handler"
    assert plain.handler_file.name == "plain.py"
    assert (echo.memory_mb, echo.timeout_s) == (256, 10)  # own MemorySize, global Timeout
    assert (plain.memory_mb, plain.timeout_s) == (512, 3)
    assert template.stage == "$default"


def test_environment_merges_globals_and_resolves_intrinsics() -> None:
    template = load_template(ECHO_TEMPLATE)

    assert template.functions["EchoFunction"].environment == {
        "ECHO_GREETING": "hello",  # !Ref Greeting -> Default
        "ECHO_REGION": "us-east-1",  # !Sub ${AWS::Region}
        "ECHO_OVERRIDDEN": "from-template",
        "ECHO_TABLE": "EchoTable",  # !Ref of a resource -> its logical ID
        "ECHO_API_URL": "https://Api.execute-api.us-east-1.amazonaws.com",
    }
    assert "ECHO_TABLE" not in template.functions["PlainFunction"].environment


def test_parameters_env_overrides_and_stage() -> None:
    template = load_template(
        ECHO_TEMPLATE,
        parameters={"Greeting": "hi", "StageName": "prod"},
        env_overrides={"ECHO_OVERRIDDEN": "from-cli"},
    )

    environment = template.functions["EchoFunction"].environment
    assert environment["ECHO_GREETING"] == "hi"
    assert environment["ECHO_OVERRIDDEN"] == "from-cli"
    assert template.stage == "prod"
    assert load_template(ECHO_TEMPLATE, stage="beta").stage == "beta"


def test_routes_come_from_the_http_api_events() -> None:
    template = load_template(ECHO_TEMPLATE)

    assert [(route.route_key, route.function) for route in template.routes] == [
        ("GET /items", "EchoFunction"),
        ("GET /items/{id}", "EchoFunction"),  # Method: get
        ("POST /items/{id}", "EchoFunction"),
        ("ANY /items/special", "EchoFunction"),
        ("GET /files/{proxy+}", "EchoFunction"),
        ("GET /bytes", "EchoFunction"),
        ("GET /cookies", "EchoFunction"),
        ("ANY /plain/{proxy+}", "PlainFunction"),
        ("$default", "PlainFunction"),  # an HttpApi event without Path and Method
    ]


UNRESOLVABLE = """\
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      CodeUri: src/
      Handler: app.handler
      Environment:
        Variables:
          QUEUE_ARN: !GetAtt Queue.Arn
  Image:
    Type: AWS::Serverless::Function
    Properties:
      PackageType: Image
      ImageUri: repo/image:latest
"""


def test_unresolvable_variable_asks_for_an_env_override(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(UNRESOLVABLE)

    with pytest.raises(TemplateError, match=r"QUEUE_ARN.*pass --env QUEUE_ARN=VALUE"):
        load_template(path)
    template = load_template(path, env_overrides={"QUEUE_ARN": "arn:local"})

    assert template.functions["Fn"].environment == {"QUEUE_ARN": "arn:local"}
    assert list(template.functions) == ["Fn"]  # the image function is skipped
    assert template.routes == ()


def test_the_repository_template_is_readable() -> None:
    template = load_template(ROOT / "template.yaml")

    assert template.routes, "the HttpApi has routes"
    for route in template.routes:
        assert route.function in template.functions
