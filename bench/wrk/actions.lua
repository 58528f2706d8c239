-- Each request reports one action as the next agent in turn (`tokens` is
-- prepended by ingest.sh); wrk counts every answer that is not 2xx.
local counter = 0

function request()
    counter = counter + 1
    local token = tokens[(counter % #tokens) + 1]
    local body = string.format(
        '{"action":"approve_post","resource_type":"post","resource_id":"post-%d","status":"success",' ..
        '"confidence":0.92,"reasoning":"matched policy rules","request_data":{"n":%d},"execution_time_ms":120}',
        counter, counter)
    return wrk.format("POST", nil, {
        ["Authorization"] = "Bearer " .. token,
        ["Content-Type"] = "application/json",
    }, body)
end
