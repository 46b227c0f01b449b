"""Classification: pre-training and fine-tuning on labelled windows, metrics, and the own-data :class:`Classifier`."""
