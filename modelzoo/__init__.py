"""Build-time model zoo: recipes that produce ONNX models (fp32 and int8) with manifests.

Run ``python -m modelzoo.build --help`` from the repository root with the build environment.
``modelzoo.sentences`` is pure standard library and may be imported anywhere.
"""
