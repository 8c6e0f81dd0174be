-- Argo CD health of a ContactSync (contactsync.dev/ContactSync), from the conditions the
-- operator writes. Degraded when Stalled (a person must act), Healthy when Ready, Suspended
-- when its schedule is paused, else Progressing (not reconciled yet, or getting there).
local hs = {status = "Progressing", message = "waiting for the operator to reconcile it"}
if obj.status == nil or obj.metadata == nil then
  return hs
end
if obj.status.observedGeneration == nil or obj.status.observedGeneration ~= obj.metadata.generation then
  return hs
end
local conditions = {}
if obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    conditions[condition.type] = condition
  end
end
local stalled = conditions["Stalled"]
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message or stalled.reason
  return hs
end
local ready = conditions["Ready"]
if ready ~= nil and ready.status == "True" then
  if obj.spec ~= nil and obj.spec.schedule ~= nil and obj.spec.schedule.paused == true then
    hs.status = "Suspended"
    hs.message = "its schedule is paused"
    return hs
  end
  hs.status = "Healthy"
  hs.message = ready.message or ""
  return hs
end
local reconciling = conditions["Reconciling"]
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = reconciling.message or reconciling.reason
elseif ready ~= nil then
  hs.message = ready.message or ready.reason
end
return hs
