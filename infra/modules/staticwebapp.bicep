// The Static Web App (Free) that serves static_site/dist. The site calls the Function App's
// /api/negotiate directly (CORS), so no linked backend (Standard only) is needed; its API
// base URL reaches the browser through dist/config.json, written by deploy.sh.

@description('Azure region for the Static Web App (Static Web Apps runs in a few regions only).')
@allowed([
  'westus2'
  'centralus'
  'eastus2'
  'westeurope'
  'eastasia'
])
param location string

@description('Tags applied to every resource.')
param tags object

@description('Name of the Static Web App.')
param staticWebAppName string

@description('Tags the Azure Developer CLI uses to find the site.')
param serviceTags object = {}

resource site 'Microsoft.Web/staticSites@2023-12-01' = {
  name: staticWebAppName
  location: location
  tags: union(tags, serviceTags)
  sku: {
    name: 'Free'
    tier: 'Free'
  }
  properties: {
    allowConfigFileUpdates: true
    stagingEnvironmentPolicy: 'Disabled'
  }
}

output staticWebAppName string = site.name
output defaultHostname string = site.properties.defaultHostname
