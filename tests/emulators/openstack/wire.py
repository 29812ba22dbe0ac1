"""Shared bits of the emulator's wire format."""

import time
import uuid


class Reply(Exception):
    """An HTTP answer; raised for errors, returned for successes (one type keeps handlers short)."""

    def __init__(self, status, body=None, headers=None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def iso(ts=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts or time.time()))


def new_id():
    return str(uuid.uuid4())


def nova_error(status, message):
    key = {400: "badRequest", 403: "forbidden", 404: "itemNotFound", 409: "conflictingRequest",
           413: "overLimit"}.get(status, "computeFault")
    return Reply(status, {key: {"code": status, "message": message}})


def neutron_error(status, kind, message):
    return Reply(status, {"NeutronError": {"type": kind, "message": message, "detail": ""}})


def cinder_error(status, message):
    key = {400: "badRequest", 404: "itemNotFound", 413: "overLimit"}.get(status, "computeFault")
    return Reply(status, {key: {"code": status, "message": message}})
