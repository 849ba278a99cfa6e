// The Function App (Python, Flex Consumption) that answers /api/negotiate and handles the
// Socket.IO events Web PubSub forwards. It reaches storage, Web PubSub and Application
// Insights with its system-assigned identity; the role assignments are in roles.bicep.

@description('Azure region for the plan and the app.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Name of the Flex Consumption plan.')
param planName string

@description('Name of the Function App; it becomes <name>.azurewebsites.net.')
@minLength(2)
@maxLength(60)
param functionAppName string

@description('Storage account (from storage.bicep) for the host and the deployment package.')
param storageAccountName string

@description('Blob container (from storage.bicep) that holds the deployment package.')
param deploymentContainerName string

@description('Application Insights component (from monitoring.bicep).')
param appInsightsName string

@description('Web PubSub for Socket.IO resource (from webpubsub.bicep) the app talks to.')
param webPubSubName string

@description('Socket.IO hub the functions bind to (app setting CODESTREAM_HUB).')
param hubName string

@description('Origins allowed to call the API from a browser (CORS and CODESTREAM_ALLOWED_ORIGINS).')
param allowedOrigins array

@description('Server secret that signs writer keys (app setting CODESTREAM_SECRET).')
@secure()
param codestreamSecret string

@description('Python version of the Functions runtime; the repository pins it in .python-version-azure. From 3.13 on, requirements.txt pins the worker itself (azure-functions-runtime).')
@allowed([
  '3.11'
  '3.12'
  '3.13'
])
param pythonVersion string = '3.13'

@description('Most instances Flex Consumption may scale out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of each instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Tags the Azure Developer CLI uses to find the app for `azd deploy`.')
param serviceTags object = {}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource webPubSub 'Microsoft.SignalRService/webPubSub@2024-03-01' existing = {
  name: webPubSubName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  //checkov:skip=CKV_AZURE_225:Zone redundancy is a production choice that not every Flex Consumption region offers; the default deployment is a scale-to-zero demo whose live state is in Web PubSub and zone-independent storage, not on the instances.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  //checkov:skip=CKV_AZURE_222:Browsers call /api/negotiate and Web PubSub calls the Socket.IO webhook from the internet: the app must be publicly reachable.
  //checkov:skip=CKV_AZURE_212:Flex Consumption scales out on demand and down to zero; there is no fixed instance count to set.
  //checkov:skip=CKV_AZURE_213:App Service health checks are not available on Flex Consumption; Application Insights watches failures instead.
  //checkov:skip=CKV_AZURE_17:Browsers call /api/negotiate and Web PubSub calls the webhook; neither presents a client certificate.
  name: functionAppName
  location: location
  tags: union(tags, serviceTags)
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      cors: {
        allowedOrigins: allowedOrigins
        supportCredentials: false
      }
      // Flex Consumption takes the worker runtime from functionAppConfig.runtime: no
      // FUNCTIONS_WORKER_RUNTIME or FUNCTIONS_EXTENSION_VERSION here.
      appSettings: [
        // Host storage with the app's identity (Durable Functions needs queues and tables).
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__blobServiceUri'
          value: storage.properties.primaryEndpoints.blob
        }
        {
          name: 'AzureWebJobsStorage__queueServiceUri'
          value: storage.properties.primaryEndpoints.queue
        }
        {
          name: 'AzureWebJobsStorage__tableServiceUri'
          value: storage.properties.primaryEndpoints.table
        }
        // Telemetry with the app's identity (the component has local auth off).
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsights.properties.ConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'Authorization=AAD'
        }
        // Web PubSub for Socket.IO: the identity form of WebPubSubForSocketIOConnectionString.
        {
          name: 'WebPubSubForSocketIOConnectionString__endpoint'
          value: 'https://${webPubSub.properties.hostName}'
        }
        {
          name: 'WebPubSubForSocketIOConnectionString__credential'
          value: 'managedidentity'
        }
        // codestream's own settings (read by shared/settings.py).
        {
          name: 'CODESTREAM_SECRET'
          value: codestreamSecret
        }
        {
          name: 'CODESTREAM_HUB'
          value: hubName
        }
        {
          name: 'CODESTREAM_ALLOWED_ORIGINS'
          value: join(allowedOrigins, ',')
        }
      ]
    }
  }
}

output functionAppName string = functionApp.name
output principalId string = functionApp.identity.principalId
output defaultHostName string = functionApp.properties.defaultHostName
