"""Model families in the keras-hub layout: backbone, tokenizer, preprocessor, task, presets."""
