"""The hints of the checks' messages for PyTorch: what to look at when a check fails. Strings only."""

#: what build_model's logits must be (step 3)
LOGITS = (
    "forward returns the last nn.Linear's output, with no F.softmax or F.log_softmax; the loss of step 4 "
    '(nn.CrossEntropyLoss, F.cross_entropy) applies log_softmax itself'
)

#: the framework's losses that take raw logits (step 4)
LOSS_ON_LOGITS = 'nn.CrossEntropyLoss() and F.cross_entropy do (F.nll_loss would need F.log_softmax first)'

#: what train must return for each step (step 6); None where the loss cannot be watched (a TF1 graph)
STEP_LOSS = 'append loss.item() of each step as it is, not a running mean or a sum over the epoch'

#: where build_model's trainable weights must be (step 3)
PARAMETERS = 'the layers: their weights must be trainable parameters'

#: what one training step does (step 6)
TRAIN = 'optimizer.zero_grad(), forward, loss, loss.backward(), optimizer.step(), in that order, every batch'

#: what load_and_preprocess's batches must be (step 2)
BATCHES = 'a DataLoader (or a class with __iter__): a generator is used up after one pass'
