"""The workbench's importance-weighted SFT recipe as a TRL SFTTrainer (issue 18).

Modules: job (reads and checks a job folder), weights (the weight recipe, science.md),
trainer (the SFTTrainer subclass, its optimizer and schedule), stream (stream.jsonl),
checkpoint (HF / PEFT folders), weights_check (the recipe on given log-probs, for parity tests).
"""
