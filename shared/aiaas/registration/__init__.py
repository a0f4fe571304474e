"""The model catalog: registering uploaded ONNX models.

``validation`` accepts or refuses an upload, ``quantization`` makes and gates its int8
variant, ``runs`` holds generated inputs, sessions, latency and cost. Import the submodules
directly: this package re-exports nothing, so that importing ``aiaas.registration`` never loads
``onnx``, which only the registration function ships.
"""
