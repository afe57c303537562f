# What each captured Envoy (tools/fixtures/envoy/<folder>) must give: net watts (+ import), or the
# words the "unavailable" reason must contain. Worked out by hand from the capture files, so the
# parser and the client are checked against the data, not against themselves.
NO_CT = "no consumption CT"

EXPECTED = {
    "3.17.3": "HTML",  # firmware 3.x: production.json is an HTML page
    "3.7.0": "HTML",
    "3.8.10": "HTML",  # /ivp/meters answers 401 (digest auth), production.json is HTML
    "3.9.36": "HTML",
    "3.9.36_bad_auth": "HTML",  # /ivp/meters answers 404
    "4.10.35": 567,  # net-consumption 566.864
    "4.2.27": "no active CT",  # production.json net entry activeCount 0
    "4.2.33": "disabled",  # net-consumption CT disabled
    "5.0.49": "no consumption data",  # non-metered
    "5.0.62": "not a metered model",  # /ivp/meters is []
    "7.3.130": 1215,  # production.json net wNow 1214.696
    "7.3.130_no_consumption": "disabled",
    "7.3.466_metered_disabled_cts": "disabled",
    "7.3.466_with_cts_3phase": -36,
    "7.3.517": -765,  # production.json -765.064
    "7.3.517_legacy_savings_mode": -765,
    "7.3.517_system_2": 23,
    "7.6.114_without_cts": "no consumption data",
    "7.6.175": "no consumption data",
    "7.6.175_standard": "no consumption data",
    "7.6.175_total": "disabled",
    "7.6.175_with_cts": -36,
    "7.6.175_with_cts_3phase": -36,
    "7.6.185_with_cts_and_battery_3t": 522,
    "8.1.41": -7812,
    "8.2.127_with_3cts_and_battery_split": 129,
    "8.2.127_with_generator_running": 196,  # 195.575
    "8.2.4264_metered_noct": "disabled",
    "8.2.4286_with_3cts_and_battery_split": 1750,  # 1749.504; the junk 3rd channel is ignored
    "8.2.4345_with_device_data": 199,
    "8.2.4382_ACB": 23,  # 22.54
    "8.2.4382_ACB_2": 11,
    "8.3.1598_collar": 3761,
    "8.3.5167_3rd-pv": -4912,
    "8.3.5169_ACB_inventory": 1416,
    "8.3.5169_with_generator": 160,  # 160.49
    "8.3.5289_modGone": "disabled",
    "8.3.5433_tot_is_net_cons": 434,  # total 786.513 - production 352.751
}
