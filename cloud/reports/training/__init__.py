"""Training side of the report classifier: the corpus generator and the trainer.

Not imported by the service: :mod:`cloud.reports.model` reads the exported artefact with numpy
alone. Training needs scikit-learn (``pip install -e '.[cloud,train]'``)::

    python -m cloud.reports.training.corpus   # writes cloud/reports/data/corpus.tsv
    python -m cloud.reports.training.train    # writes cloud/reports/data/model.npz
"""
