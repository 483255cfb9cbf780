"""Domain events: an outbox of facts that other parts of the product react to.

Writers record an event in the same transaction as the change it describes, so
an event exists if and only if the change committed. Consumers (the webhook
dispatcher) read the outbox; nothing is lost if a broker is down.
"""
