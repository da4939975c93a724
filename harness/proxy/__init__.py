"""`hih proxy`: a recording, validating proxy between a hospital system and a partner's test environment.

One proxy per transport, written against the transport descriptors (`harness.contract.transports`): `http` for
JSON over HTTP and SOAP, `mllp` for HL7 v2. `core` holds what they share (options, the admin API and journal as
for the mocks, serving until interrupted), `record` turns exchanges into masked recording lines.
"""
