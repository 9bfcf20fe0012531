"""The lines a replica announces itself with, as providers parse them."""

from functions.runtime import announce


def test_round_trip_of_every_announcement():
    assert announce.parse(announce.listening(41234)) == announce.Announcement(
        announce.LISTENING, port=41234)
    assert announce.parse(announce.READY + "\n").kind == announce.READY
    failed = announce.parse(announce.init_failed("no model: x.onnx"))
    assert failed.kind == announce.INIT_FAILED and failed.reason == "no model: x.onnx"


def test_other_output_is_not_an_announcement():
    for line in ("", "hello", "VSB_LISTENING", "VSB_LISTENING abc", "VSB_READY now"):
        assert announce.parse(line) is None, line
    assert announce.parse(announce.INIT_FAILED).reason == "init failed"
