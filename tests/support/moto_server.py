"""Starts moto's server for scripts/stack.sh and the compose image (docker/moto): bin/moto_server's
own main(), with two things it redoes on every request done once instead. Neither changes an
answer.

moto 5.2's dispatcher asks, for every request, whether the request's host names one of its
modules, and lists its package directory to answer (moto/backends.py list_of_moto_modules:
os.listdir and an isdir for each of ~150 entries, called from
moto_server/werkzeug_app.py get_backend_for_host). Measured on a Send/Receive/Delete
loop against this stack: 1.86 ms of moto CPU per SQS call, 1.49 ms with the list read once.
An installed moto's modules do not change while it runs, so the answers are the same.

moto's EventBridge builds each event it delivers to a target from a template whose 8
JSONPath expressions it parses anew for every event and target (moto/events/utils.py
EventTemplateParser.parse calls jsonpath_ng.ext.parse, which builds a PLY parser each
call): ~40 % of moto's CPU in a PutEvents-to-SQS loop. A parsed JSONPath is immutable
(find() reads the document it is given), so each expression is parsed once and reused.
"""
import functools
import sys

import jsonpath_ng.ext

import moto.backends
from moto.server import main


def replace(module, name, how):
    """module.name = how(module.name); if an upgrade removed it, a line on moto's log."""
    function = getattr(module, name, None)
    if function is None:
        print("moto_server.py: %s.%s is gone (upgraded?); left as it is"
              % (module.__name__, name), file=sys.stderr)
        return
    setattr(module, name, how(function))


def read_once(listing):
    modules = tuple(listing())
    return lambda: modules


if __name__ == "__main__":
    replace(moto.backends, "list_of_moto_modules", read_once)
    replace(jsonpath_ng.ext, "parse", functools.lru_cache(maxsize=1024))
    sys.argv[0] = "moto_server"
    sys.exit(main())
