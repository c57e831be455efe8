"""Author a course: exercises -> source and release notebooks (`build`), the reference figures
that results cells are scored against (`figures`), and the students' install (`student`)."""
