"""The hints of the checks' messages for TensorFlow 2 (eager, Keras): what to look at when a check fails. Strings only."""

#: what build_model's logits must be (step 3)
LOGITS = (
    "the last Dense layer has no activation (not 'softmax'), and no softmax follows it; the loss of step 4 "
    '(SparseCategoricalCrossentropy(from_logits=True)) applies the softmax itself'
)

#: the framework's losses that take raw logits (step 4)
LOSS_ON_LOGITS = 'SparseCategoricalCrossentropy(from_logits=True) does'

#: what train must return for each step (step 6); None where the loss cannot be watched (a TF1 graph)
STEP_LOSS = (
    "return the loss of each step as the loss computed it for that batch: the logs['loss'] that Keras fit hands a "
    "callback is the mean over the epoch so far, not the batch's loss; train_on_batch or a GradientTape step "
    "returns the batch's own"
)

#: where build_model's trainable weights must be (step 3)
PARAMETERS = (
    'the weights must exist when build_model returns (optimizer.build in step 4 takes them): give the model its '
    'input shape (tf.keras.Input(shape=(input_dim,))) or call it once on a batch; build() of a subclassed model '
    "does not create its layers' weights"
)

#: what one training step does (step 6)
TRAIN = 'compute the loss inside the GradientTape, then apply the gradients to model.trainable_variables, every batch'

#: what load_and_preprocess's batches must be (step 2)
BATCHES = 'a tf.data.Dataset (or a class with __iter__): a generator is used up after one pass'
