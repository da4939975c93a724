"""`hih mock serve --replay DIR`: a mock that answers from a recording of `hih proxy`.

`answers` finds the recorded exchange for a request (by transaction and fields, volatile ones ignored, else by the
contract's correlation keys); `http` and `mllp` put it in front of a mock of their transport (the transport
descriptor's `replay`). A request the recording has no answer for gets the contract's behaviour (the mock's own) or
a clear error in the protocol's words, as `--unrecorded` says; the journal says which answers came from the
recording (`meta.replay`).
"""
