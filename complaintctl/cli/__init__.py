"""The typer layer and its text formatting: parse arguments, call one service
function, print. The only place that catches ComplaintError.
"""
