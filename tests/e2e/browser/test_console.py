"""The web console in Chromium over the local stack, as a user: sign up, log in, keys,
predictions from the playground, pictures with boxes, batch and training jobs.

Each flow also checks: no console error, no request to another host (the `console`
fixture), and no critical axe-core violation on the pages it visits.
"""

from __future__ import annotations

import base64
import json
import random
import re
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import load_testdata
from tests.e2e.accounts import PASSWORD
from tests.e2e.browser.conftest import Console
from tests.speech import clip

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
JOB_TIMEOUT_MS = 300_000
expect.set_options(timeout=60_000)
IRIS = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


def fill_row(console: Console, values: list[object]) -> None:
    """Fill the tabular playground's inputs, in column order."""
    inputs = console.page.locator("input[data-feature]")
    inputs.first.wait_for()
    assert inputs.count() == len(values)
    for index, value in enumerate(values):
        inputs.nth(index).fill(str(value))


def test_signup_models_keys_and_an_iris_prediction(console: Console) -> None:
    page = console.page
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    # Given the signup page, a weak password is refused in the API's own words
    console.allow_http_errors = True
    console.goto("#/signup")
    console.axe()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("alert").first).to_contain_text("at least 12 characters")
    # When the password is long enough, the account is made and the catalog shows as cards
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.locator("li.card[data-model=iris-rf]").wait_for()
    assert page.locator("li.card").count() >= 5
    iris = page.locator("li.card[data-model=iris-rf]").inner_text()
    assert "tabular-classification" in iris and "p50, batch 32" in iris and "$" in iris
    page.get_by_label("Task").select_option("tabular-classification")
    assert page.locator("li.card").count() == 1
    page.get_by_label("Task").select_option("")
    console.axe()
    console.shot("models")
    console.readme_shot("models")
    # A phone-sized window: nothing wider than the screen
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
    console.shot("models-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    # Logging out forgets the token; logging in again brings it back
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("button", name="Log in").wait_for()
    assert page.evaluate("() => Object.keys(sessionStorage).length") == 0
    assert page.evaluate("() => localStorage.length") == 0
    # ...with the keyboard alone: Tab to the fields, Enter to submit
    page.get_by_label("Email").focus()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.locator("li.card").first.wait_for()
    # A key is shown once, at creation
    console.goto("#/keys")
    page.get_by_role("button", name="Create key").click()
    assert page.locator("code.new-key").inner_text().startswith("aiaas_")
    console.axe()
    console.shot("keys")
    # The iris playground predicts from the form and shows the request it sent
    console.goto("#/models/iris-rf")
    fill_row(console, list(IRIS.values()))
    page.get_by_role("button", name="Predict").click()
    expect(page.locator(".result .label")).to_have_text("setosa")
    page.locator(".result canvas").first.wait_for()  # the explanation's chart
    assert "/v1/models/iris-rf/predict" in page.locator("pre.request").text_content()
    assert "aiaas_" not in page.evaluate("() => JSON.stringify(sessionStorage)")
    console.axe()
    console.shot("playground")
    # Usage counts the prediction
    console.goto("#/usage")
    page.locator(".usage-total").wait_for()
    expect(page.locator(".usage-total")).not_to_have_text(re.compile(r"^0 requests"))
    console.axe()
    console.shot("usage")


def test_the_api_reference_is_one_document(console: Console, local_stack: str) -> None:
    document = httpx.get(f"{local_stack}/openapi.json", timeout=30).json()
    assert {"apiKey", "bearer"} <= set(document["components"]["securitySchemes"])
    assert document["paths"]["/v1/auth/login"]["post"]["security"] == []
    assert {"/v1/models/{name}/predict", "/v1/keys", "/v1/batch-jobs"} <= set(document["paths"])
    console.page.goto(f"{local_stack}/docs.html")
    console.page.locator(".opblock").first.wait_for()
    assert console.page.locator(".opblock").count() >= 30
    console.axe()
    console.shot("docs")


def test_a_revoked_key_stops_working(console: Console, user: str, local_stack: str) -> None:
    page = console.page
    console.log_in(user)
    console.goto("#/keys")
    page.get_by_label("Name").fill("to revoke")
    page.get_by_role("button", name="Create key").click()
    key = page.locator("code.new-key").inner_text()
    key_id = key.split("_")[1]
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"button[data-key='{key_id}']").click()
    page.locator(f"button[data-key='{key_id}']").wait_for(state="detached")
    answer = httpx.post(f"{local_stack}/v1/models/iris-rf/predict", headers={"x-api-key": key},
                        json={"inputs": [list(IRIS.values())]}, timeout=60)  # fmt: skip
    assert answer.status_code in (401, 403), answer.text


def test_the_face_detector_draws_boxes(console: Console, user: str) -> None:
    astronaut = next(s for s in load_testdata("face_samples")["images"] if s["name"] == "astronaut")
    console.log_in(user)
    console.goto("#/models/face-detector")
    picture = {"name": "astronaut.jpg", "mimeType": "image/jpeg",
               "buffer": base64.b64decode(astronaut["jpeg_base64"])}  # fmt: skip
    console.page.locator("input[type=file]").set_input_files(picture)
    console.page.locator(".picture canvas[data-shapes='1']").wait_for()
    expect(console.page.locator(".result .answer")).to_contain_text("1 face")
    console.axe()
    console.shot("face-detector")
    console.readme_shot("playground", "section.panel")


def test_a_batch_job_runs_and_its_output_downloads(console: Console, user: str) -> None:
    page = console.page
    console.log_in(user)
    console.goto("#/batch")
    page.get_by_label("Model").select_option("iris-rf")
    page.get_by_label("Input format").select_option("csv")
    rows = "id,sepal_length,sepal_width,petal_length,petal_width\n"
    rows += "a,5.1,3.5,1.4,0.2\nb,6.7,3.0,5.2,2.3\n"
    page.get_by_label("Input file").set_input_files(
        {"name": "rows.csv", "mimeType": "text/csv", "buffer": rows.encode()}
    )
    page.get_by_role("button", name="Start job").click()
    page.locator(".job[data-status=SUCCEEDED]").wait_for(timeout=JOB_TIMEOUT_MS)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download output").click()
    lines = [json.loads(line) for line in download.value.path().read_text().splitlines()]
    assert [line["id"] for line in lines] == ["a", "b"]
    assert [line["output"]["label"] for line in lines] == ["setosa", "virginica"]
    console.axe()
    console.shot("batch")


def training_csv(rows: int = 80) -> bytes:
    """Two well separated classes over two number columns and a string column."""
    generator = random.Random(7)
    lines = ["width,height,colour,kind"]
    for index in range(rows):
        big = index % 2 == 0
        width = generator.gauss(8 if big else 2, 0.5)
        height = generator.gauss(6 if big else 1, 0.5)
        colour = generator.choice(["red", "blue"])
        lines.append(f"{width:.2f},{height:.2f},{colour},{'big' if big else 'small'}")
    return ("\n".join(lines) + "\n").encode()


def test_a_training_job_registers_a_model_that_answers(console: Console, user: str) -> None:
    page = console.page
    name = f"shapes-{uuid.uuid4().hex[:6]}"
    console.log_in(user)
    console.goto("#/training")
    page.get_by_label("CSV file").set_input_files(
        {"name": "shapes.csv", "mimeType": "text/csv", "buffer": training_csv()}
    )
    expect(page.get_by_label("Target column")).to_have_value("kind")
    page.get_by_label("Model name").fill(name)
    page.get_by_label("Algorithm").select_option("logistic_regression")
    page.get_by_role("button", name="Train").click()
    page.locator(".job[data-status=SUCCEEDED]").wait_for(timeout=JOB_TIMEOUT_MS)
    assert page.get_by_role("table", name="Confusion matrix").is_visible()
    console.axe()
    console.shot("training")
    # The registered model answers in its playground
    page.locator("a.registered").click()
    page.get_by_role("heading", name=name).wait_for()
    fill_row(console, [8.1, 6.2, "red"])
    page.get_by_role("button", name="Predict").click()
    expect(page.locator(".result .label")).to_have_text("big")
    console.shot("trained-model")


def test_a_bad_upload_ends_failed_with_its_reason(console: Console, user: str) -> None:
    page = console.page
    console.log_in(user)
    console.goto("#/register")
    page.get_by_label("Name", exact=True).fill(f"mine-{uuid.uuid4().hex[:6]}")
    page.get_by_label("ONNX file").set_input_files(
        {"name": "model.onnx", "mimeType": "application/octet-stream", "buffer": b"not a graph"}
    )
    page.get_by_role("button", name="Register").click()
    expect(page.locator(".version-status")).to_have_text("FAILED", timeout=120_000)
    expect(page.get_by_text("not an ONNX model")).to_be_visible()
    console.axe()
    console.shot("register")


def test_a_digit_drawn_with_the_keyboard_is_classified(console: Console, user: str) -> None:
    page = console.page
    console.log_in(user)
    console.goto("#/models/digits-cnn")
    page.locator("canvas.draw").focus()
    for _ in range(3):
        page.keyboard.press("ArrowUp")
    for _ in range(6):  # a vertical stroke: a one
        page.keyboard.press("Space")
        page.keyboard.press("ArrowDown")
    page.get_by_role("button", name="Classify").click()
    expect(page.locator(".top5 .answer")).to_have_text(re.compile(r"^\d \(\d"))
    console.axe()
    console.shot("digits")


def test_chat_replies_stream_in(console: Console, user: str) -> None:
    page = console.page
    console.log_in(user)
    console.goto("#/models/smollm2-135m-instruct")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("button", name="Send")).to_be_enabled(timeout=120_000)
    expect(page.locator(".reply")).not_to_be_empty()
    assert '"stream":true' in page.locator("pre.request").text_content()
    console.shot("chat")


def test_a_file_is_transcribed(console: Console, user: str) -> None:
    audio, _ = clip(2)  # "Please send the quarterly report to the whole team before ..."
    page = console.page
    console.log_in(user)
    console.goto("#/models/whisper-tiny-en")
    page.get_by_label("Audio file").set_input_files(
        {"name": "meeting.wav", "mimeType": "audio/wav", "buffer": audio}
    )
    page.get_by_label("Response format").select_option("verbose_json")
    page.get_by_role("button", name="Transcribe").click()
    expect(page.locator("pre.answer")).to_contain_text("quarterly report")
    expect(page.locator("pre.answer")).to_contain_text('"segments"')
    assert "/v1/audio/transcriptions" in page.locator("pre.request").text_content()
    console.shot("transcription")
