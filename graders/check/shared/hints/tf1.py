"""The hints of the checks' messages for TensorFlow 1 (a static graph): what to look at when a check fails. Strings only."""

#: what build_model's logits must be (step 3)
LOGITS = (
    "model.logits is the last layer's x @ kernel + bias, before any tf.nn.softmax or log; the loss of step 4 "
    '(tf.nn.sparse_softmax_cross_entropy_with_logits) applies the softmax itself'
)

#: the framework's losses that take raw logits (step 4)
LOSS_ON_LOGITS = 'tf.nn.sparse_softmax_cross_entropy_with_logits and v1.losses.sparse_softmax_cross_entropy do'

#: what train must return for each step (step 6); None where the loss cannot be watched (a TF1 graph)
STEP_LOSS = None

#: where build_model's trainable weights must be (step 3)
PARAMETERS = 'the layers: their weights must be trainable variables'

#: what one training step does (step 6)
TRAIN = 'initialise the variables once before the loops, then run the train op with each batch fed'

#: what load_and_preprocess's batches must be (step 2)
BATCHES = 'a class with __iter__ (like Batches): a generator is used up after one pass'
