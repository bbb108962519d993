"""The machine-learning core: training, evaluation and inference on plain data (token and tag
lists, paths), with no Django and no app models, so it can be tested and benchmarked alone.
`data` holds the plain records the web side builds and reads; it imports neither torch nor
transformers, so web processes load them only when they predict."""
