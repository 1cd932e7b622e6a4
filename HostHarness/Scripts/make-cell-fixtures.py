#!/usr/bin/env python3
"""Writes Fixtures/cells/{lg-m50,ncr18650pf}.json from the OCV tables in the shared datasets.

Usage: make-cell-fixtures.py DATASETS_DIR FIXTURES_CELLS_DIR
Only the standard library is used. The fixtures record where every number comes from.
"""
import csv, json, os, sys

datasets, out = sys.argv[1], sys.argv[2]

def table(path, column, fallback_first=None):
    soc, volts = [], []
    for row in csv.DictReader(open(path)):
        value = row[column] or fallback_first
        soc.append(round(float(row["soc"]), 4)); volts.append(round(float(value), 5))
    return soc, volts

def write(name, doc):
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")

soc, v = table(os.path.join(datasets, "synthetic/m50_ocv_table_25degC.csv"), "ocv_equilibrium_v")
write("lg-m50", {
    "name": "lg-m50",
    "description": "LG INR21700-M50 (NMC811 / graphite-SiOx), as parameterised by Chen et al. 2020 (PyBaMM Chen2020)",
    "chemistry": "NMC811",
    "rated_capacity_ah": 5.0,
    "reference_capacity_ah": 5.153,
    "voltage_min_v": 2.5,
    "voltage_max_v": 4.2,
    "series_resistance_mohm": 25.0,
    "provenance": {
        "ocv": "shared/datasets/synthetic/m50_ocv_table_25degC.csv, column ocv_equilibrium_v (exact model OCV, 25 degC)",
        "reference_capacity_ah": "q_ref_ah of the synthetic files (capacity between the OCV limits 4.2 V and 2.5 V)",
        "series_resistance_mohm": "median of dV/dI over the first second of the 36 current steps from rest in shared/datasets/synthetic/m50_pulse_25degC.csv (26.0 mOhm), rounded; a single resistance until the 2-RC model is identified",
        "license": "synthetic data generated for the project (PyBaMM, BSD-3-Clause)"
    },
    "ocv": {"soc": soc, "voltage_v": v},
})

soc, v = table(os.path.join(datasets, "real/pan18650pf_ocv_table_25degC.csv"), "ocv_mean_v", fallback_first="2.5")
write("ncr18650pf", {
    "name": "ncr18650pf",
    "description": "Panasonic NCR18650PF (NCA / graphite), measured at the University of Wisconsin-Madison",
    "chemistry": "NCA",
    "rated_capacity_ah": 2.9,
    "reference_capacity_ah": 2.9,
    "voltage_min_v": 2.5,
    "voltage_max_v": 4.2,
    "series_resistance_mohm": 26.0,
    "provenance": {
        "ocv": "shared/datasets/real/pan18650pf_ocv_table_25degC.csv, column ocv_mean_v (mean of the C/20 discharge and charge branches, 25 degC); SOC 0 has no charge branch and is set to the 2.5 V cut-off",
        "series_resistance_mohm": "median of dV/dI over the first 0.1 s sample of the 177 current steps from rest in shared/datasets/real/pan18650pf_us06_25degC_native.csv (26.2 mOhm), rounded",
        "license": "CC BY 4.0, Kollmeyer (2018), Panasonic 18650PF Li-ion Battery Data, Mendeley Data V1, doi:10.17632/wykht8y7tg.1"
    },
    "ocv": {"soc": soc, "voltage_v": v},
})
