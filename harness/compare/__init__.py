"""`hih compare`: what a connector upgrade changes on the wire. `command` runs the two sides and writes the result,
`wire` compares what each sent, `allow` reads the allow-list, `report` renders report.html."""
