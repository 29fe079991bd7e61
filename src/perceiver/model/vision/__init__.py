"""Vision models: Perceiver IO image classifiers (``image_classifier``) and optical flow (``optical_flow``)."""
