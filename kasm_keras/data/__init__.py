"""Datasets on disk to tf.data pipelines: the classification CSVs and their TFDS builder,
language-model corpora, in-graph tokenisation, vocabularies and word vectors."""
