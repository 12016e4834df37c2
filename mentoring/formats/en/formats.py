"""Dates as the rest of Upward writes them ("3 Dec 2026", "3 Dec 2026, 09:30"): one style for
offices from London to Singapore, instead of Django's US English "Dec. 3, 2026" in some
places. Only output formats; forms read ISO dates from the browser's date inputs."""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
MONTH_DAY_FORMAT = "j F"
YEAR_MONTH_FORMAT = "F Y"
TIME_FORMAT = "H:i"
