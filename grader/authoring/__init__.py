"""Tools for instructors preparing an assignment: ``grader validate`` (is it ready to release?)."""
