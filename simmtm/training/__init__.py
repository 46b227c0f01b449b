"""Training machinery shared by every task: the engine, pre-training, the one fine-tuning loop, fine-tuning protocols, checkpoints, exact resume, the shipped-encoder registry and the run budgets."""
