"""The scanner parameters XML in IB's `ScanParameterResponse` shape, from `scanner`'s catalogue.

IB answers reqScannerParameters with one large XML document (InstrumentList, LocationTree,
ScanTypeList, FilterList of RangeFilters holding AbstractField codes); clients such as the
bridge read the scan codes and filter codes from it, so its element names follow IB's.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tws_sim.scanner import FILTERS, INSTRUMENTS, LOCATIONS, MAX_ROWS, SCAN_TYPES


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def parameters_xml() -> str:
    """The supported instruments, locations, scan codes and filters in IB's XML shape."""
    root = ET.Element("ScanParameterResponse")
    il = _sub(root, "InstrumentList", varName="fullInstrumentList")
    groups = ",".join(dict.fromkeys(f.group for f in FILTERS.values()))
    for code, name in INSTRUMENTS.items():
        inst = _sub(il, "Instrument")
        _sub(inst, "name", name)
        _sub(inst, "type", code)
        _sub(inst, "filters", groups)
    tree = _sub(root, "LocationTree", varName="locationTree")
    top = _sub(tree, "Location")
    _sub(top, "displayName", LOCATIONS["STK.US"])
    _sub(top, "locationCode", "STK.US")
    _sub(top, "instruments", "STK")
    _sub(top, "routeExchange", "SMART")
    _sub(top, "delayedOnly", "false")
    _sub(top, "access", "true")
    sub_tree = _sub(top, "LocationTree")
    for code, name in LOCATIONS.items():
        if code == "STK.US":
            continue
        loc = _sub(sub_tree, "Location")
        _sub(loc, "displayName", name)
        _sub(loc, "locationCode", code)
        _sub(loc, "instruments", "STK")
        _sub(loc, "routeExchange", "SMART")
        _sub(loc, "delayedOnly", "false")
        _sub(loc, "access", "true")
    types = _sub(root, "ScanTypeList", varName="fullScanTypeList")
    for n, (code, scan) in enumerate(SCAN_TYPES.items()):
        st = _sub(types, "ScanType")
        _sub(st, "displayName", scan.name)
        _sub(st, "scanCode", code)
        _sub(st, "instruments", "STK")
        _sub(st, "absoluteColumns", "false")
        cols = _sub(st, "Columns", varName="columns")
        col = _sub(cols, "Column")
        _sub(col, "colId", str(n + 1))
        _sub(col, "name", scan.column)
        _sub(st, "supportsSorting", "true")
        _sub(st, "respSizeLimit", "2147483647")
        _sub(st, "snapshotSizeLimit", str(MAX_ROWS))
        _sub(st, "searchDefault", "false")
        _sub(st, "access", "unrestricted")
    flist = _sub(root, "FilterList", varName="filterList")
    for group in dict.fromkeys(f.group for f in FILTERS.values()):
        members = [f for f in FILTERS.values() if f.group == group]
        rf = _sub(flist, "RangeFilter")
        _sub(rf, "id", group)
        _sub(rf, "category", members[0].category)
        _sub(rf, "access", "unrestricted")
        for f in members:
            af = _sub(rf, "AbstractField", type="scanner.filter.DoubleField")
            _sub(af, "code", f.code)
            _sub(af, "displayName", f.display)
            _sub(af, "abbrev", f.display)
            _sub(af, "acceptNegative", "false")
            _sub(af, "varName", f.code)
            _sub(af, "skipValidation", "false")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body
