"""What passes between a notebook, its grading kernel and the grader, by name."""

FRAMEWORKS = ("tf1", "tf2", "torch")  # a pipeline exercise's kinds, and the comparison's three

#: The grader's kit for the whole-pipeline cell's explanation, in its working folder while that cell runs at grading
#: (`graders.runner.verdict.pipeline_kit`): the steps' verdicts and the course's results of steps 2 and 3, as data.
PIPELINE_KIT = ".course-pipeline-kit.npz"

#: The MIME type of the loss values that `StepChecks.plot_losses` displays beside its plot (the class report reads them).
LOSSES_MIME = "application/vnd.tf-pytorch-course.losses+json"
