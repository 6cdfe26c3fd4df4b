"""DNS messages: found by the packet decoder, parsed into a table on first use.

``payloads`` says where each batch's DNS messages are and keeps their bytes;
``table`` parses them into one row per message; ``message`` reads one message,
``names`` the domain names in it.
"""
