"""Every kind of job, with the code that runs it (the runner's registry)."""

from tally.exports import tasks as exports
from tally.jobs.service import Handler
from tally.orders import tasks as orders

HANDLERS: dict[str, Handler] = {
    orders.IMPORT_KIND: orders.IMPORT,
    exports.EXPORT_KIND: exports.EXPORT,
}
