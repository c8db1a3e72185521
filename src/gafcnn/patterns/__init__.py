"""The candlestick-pattern task, kept apart from direction forecasting.

A learnable task for the same encoding + CNN: each window is labelled by rule-based
pattern detectors (:mod:`.labels`), encoded as CULR GAF images
(:mod:`gafcnn.images.encodings`), and classified by :class:`.model.PatternCNN`. The label is
a function of the window itself, so it shows whether the encoding and the CNN learn
what *is* learnable; it says nothing about forecasting direction. The `patterns`
stage runs it (:mod:`gafcnn.stages.patterns`).
"""
