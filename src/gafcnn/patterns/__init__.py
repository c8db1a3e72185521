"""The candlestick-pattern task, kept apart from direction forecasting.

A learnable task for the same encoding + CNN: each window is labelled by rule-based
pattern detectors (:mod:`.labels`), encoded as CULR GAF images
(:mod:`gafcnn.images.encodings`), and classified by
:class:`gafcnn.models.cnn.PatternCNN`, trained by the loop every CNN shares. The label is
a function of the window itself, so it shows whether the encoding and the CNN learn
what *is* learnable; it says nothing about forecasting direction. :mod:`.task` runs
it, split with :mod:`gafcnn.data.split`; the `patterns` stage writes what it gives
(:mod:`gafcnn.stages.patterns`).
"""
