"""The course's given code, which every student's environment holds: datasets (`course.data`),
devices and seeds (`course.devices`), and the shared split container and hyperparameters
(`course.pipeline`). The answers live in `solutions/`, which students never get."""
