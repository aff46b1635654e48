"""``annokit annotate``: a finished run's models on images it has never seen.

``new_images`` gathers and decodes the images (a folder, files, or a CSV with tags),
``finished_models`` loads a run's checkpoints by model name (``finished_cnn_rnn`` those of notebook
07's CNN-RNN), ``new_annotations`` scores the images and applies the notebook's decision rule,
``annotation_files`` and ``annotation_gallery`` write the CSV, JSON and HTML, and ``__main__`` is
the command line.
"""
