"""What leaves the tool for people: report figures and month sums, report
tables in every format, letters and summaries from Jinja templates.
"""
