"""The servers Rill is measured beside: what a Python user writes today, the
Python floor (a bare uvloop protocol), and Nchan (nginx's C pub/sub module)."""
