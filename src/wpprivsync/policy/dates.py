"""Calendar arithmetic the policy needs. Pure functions of dates."""

from __future__ import annotations

import calendar
from datetime import date, datetime
from typing import TypeVar

D = TypeVar("D", date, datetime)


def last_day_of_month(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def add_months(when: D, months: int) -> D:
    """``when`` moved by whole calendar months, the day clamped to the month's end
    (Jan 31 + 1 month = Feb 28, or 29 in a leap year). Keeps time and zone of a datetime."""
    index = when.year * 12 + (when.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)


def add_years(when: D, years: int) -> D:
    return add_months(when, 12 * years)


def tax_year_end(day: date, start_month: int = 1) -> date:
    """The last day of the tax year that contains ``day``. A tax year starting in month
    ``start_month`` (1 = the calendar year; 4 = April to March) ends on the last day of the
    month before it, in the year it started for January, else in the following year."""
    if not 1 <= start_month <= 12:
        raise ValueError("start_month is 1 to 12")
    if start_month == 1:
        return date(day.year, 12, 31)
    end_month = start_month - 1
    end_year = day.year + 1 if day.month >= start_month else day.year
    return last_day_of_month(end_year, end_month)
