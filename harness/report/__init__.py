"""Reports of a run: summary, junit, cucumber, report.html, the sign-off pack and the manifest (harness.report.writer
writes them), and the masking of patient identifiers every artefact goes through (harness.report.masking).

Kept empty so that a pytest process of `hih run`, which needs only the masking, does not import the writers."""
