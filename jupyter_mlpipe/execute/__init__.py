"""The execute layer: run a plan's steps, reuse what did not change, record what happened.

From the top down: `runner.start_run` drives a `run.Run` over the plan; for
each step `decision` says reuse or run (with the keys of `reuse`), `bundle`
turns a step into a papermill notebook, and a `backend.Backend` runs it
(`ray_backend.RayBackend`, or `backend.InProcessBackend` without Ray) as a
`task.StepTask`. Where the step runs, `worker.run_step_task` executes the
bundle with the in-process papermill engine (`engine`, with `notebook_run`,
`isolation`, `shell`, `outputs`, `figures` and `tracebacks`), and the
bundle's own cells call `runtime` to load inputs and store outputs.
`failures` words what went wrong.

Importing this package imports nothing heavy: ray, papermill, nbformat and
IPython are imported where they are first needed.
"""
